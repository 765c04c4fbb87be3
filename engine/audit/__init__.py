"""The record of what happened: the hash-chained history, its verification and export, admin log, retention, backup."""
