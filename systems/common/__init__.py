"""What the Trainer-based systems share."""
