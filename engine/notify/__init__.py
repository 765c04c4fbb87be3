"""Messages to people: what a notification says in each language (notification_text), and its e-mail."""
