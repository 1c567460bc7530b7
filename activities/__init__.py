"""Side effects of the workflows: recording events and projections in PostgreSQL, and the supplier
assurance checks against their registries."""
