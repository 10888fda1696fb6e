"""The token classifier (bert) and the backends it predicts through."""
