"""Rectiflow engine: BPMN execution, persistence and rules. Knows nothing of HTTP."""
