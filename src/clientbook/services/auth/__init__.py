"""Authentication: accounts (sign up, sign in, password), sessions, API keys, login throttling.

Faces use this package's names; the modules behind it are:
`accounts` (use cases), `sessions`, `api_keys`, `credentials` (request credentials → principal,
CSRF, last-used), `throttle` (failed sign-ins) and `tokens` (secrets and their hashes).
"""

from clientbook.services.auth.accounts import (
    ANONYMOUS,
    INVALID_CREDENTIALS,
    SignedIn,
    anonymous,
    change_password,
    create_account,
    describe,
    login,
    logout,
    rename,
    signup,
)
from clientbook.services.auth.api_keys import (
    IssuedApiKey,
    create_api_key,
    get_api_key,
    list_api_keys,
    present_api_key,
    revoke_api_key,
)
from clientbook.services.auth.credentials import (
    Authentication,
    Credentials,
    authenticate,
    reads_without_waiting,
    touch,
    touch_due,
)
from clientbook.services.auth.invitations import (
    INVITATION_DAYS,
    IssuedInvitation,
    accept_invitation,
    invited_account,
    issue_invitation,
)
from clientbook.services.auth.sessions import (
    SESSION_COOKIE,
    NewSession,
    cookie_is_secure,
    create_session,
    find_user_session,
    prune_expired_sessions,
    revoke_user_session,
    revoke_user_sessions,
)
from clientbook.services.auth.tokens import SAFE_METHODS, CsrfFailed, csrf_token_for, hash_token

__all__ = [
    "ANONYMOUS",
    "INVALID_CREDENTIALS",
    "INVITATION_DAYS",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "Authentication",
    "Credentials",
    "CsrfFailed",
    "IssuedApiKey",
    "IssuedInvitation",
    "NewSession",
    "SignedIn",
    "accept_invitation",
    "anonymous",
    "authenticate",
    "change_password",
    "cookie_is_secure",
    "create_account",
    "create_api_key",
    "create_session",
    "csrf_token_for",
    "describe",
    "find_user_session",
    "get_api_key",
    "hash_token",
    "invited_account",
    "issue_invitation",
    "list_api_keys",
    "login",
    "logout",
    "present_api_key",
    "prune_expired_sessions",
    "reads_without_waiting",
    "rename",
    "revoke_api_key",
    "revoke_user_session",
    "revoke_user_sessions",
    "signup",
    "touch",
    "touch_due",
]
