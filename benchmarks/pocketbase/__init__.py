"""PocketBase, set up with the seed's customers collection for the comparison benchmark."""
