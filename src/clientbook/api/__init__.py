"""The native REST API (`/api`): thin FastAPI routes over the service layer."""
