"""Storage and what every layer stands on: database, models, migrations, configuration, errors, the office clock."""
