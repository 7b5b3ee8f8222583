"""Domain core: ledger, members, earning and redemption. Knows nothing about GraphQL."""
