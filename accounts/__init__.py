"""Staff accounts: guardians and EDI leads, password plus TOTP login, key unlocking."""
