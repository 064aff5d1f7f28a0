"""The bootstrap project's components: CI identities, the shared ETL registry, the repository's settings."""
