"""Services: one module per capability; they own the rules and the transaction."""
