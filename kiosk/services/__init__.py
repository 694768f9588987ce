"""Application services: pcscd management, card workers, central client, outbox, audit log."""
