"""Institutional measures (制度性措施, 长效机制): the library, how items are closed with one, recurring problems."""
