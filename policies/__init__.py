"""The `kingtavo-secret-hygiene` CrossGuard pack: `catalogue` (names and token shapes), `rules` (the policies)."""
