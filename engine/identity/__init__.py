"""Who is who: departments, users, roles, passwords, tokens, single sign-on, permissions and administration."""
