"""Items in flight: the workflow service, visibility, lane rules, delegation, forms, progress, incidents, notices."""
