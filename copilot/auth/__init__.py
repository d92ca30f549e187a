"""How people prove who they are: password hashes for local users (the web sign-in)."""
