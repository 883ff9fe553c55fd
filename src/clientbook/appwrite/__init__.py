"""The Appwrite-compatible face (`/v1`, shared/spec/appwrite-compat.md): Appwrite client code for
the seed's collections runs unchanged against clientbook, over the same services as `/api`.

    router.py    the /v1 router, its error handling and the catch-all 404
    auth.py      project header, API key (staff) or session, as Appwrite's SDKs send them
    params.py    request parsing: indexed GET arrays, booleans, JSON bodies
    queries.py   Appwrite JSON `queries` into the one internal ListQuery
    catalog.py   the four collections: which service call reads or writes each
    shapes.py    rows / documents, users, sessions as SDK 27's models expect them
    errors.py    domain errors to `{message, code, type, version}` (compat §6)
    records.py   TablesDB (rows) and Databases (documents) routes, one factory for both
    account.py   Account: sign up, sessions, name, password
    users.py     Users: create, list, get, delete (API key only)
"""
