"""Messages that leave the product: e-mail."""
