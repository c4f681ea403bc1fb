"""The spec language: safe YAML, JSON Schema validation with positions, and the project model."""
