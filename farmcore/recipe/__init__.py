"""Recipes: what a zone should be kept at, by stage (days since planting or stocking) and time of day.

A recipe is a TOML file (DESIGN.md § Recipes), hardware-independent: it names quantities of the project
vocabulary, never registers. `schema` is its generic pydantic shape and `kinds` finds each zone kind's
strategy tables (declared by farmctl and aquactl, by entry point), `load` parses and cross-checks it with
errors that name the file and the field, `write` writes it back, `store` keeps a site's recipes by kind and
`id@version`, `timeline` turns (recipe, planting date, instant, site) into setpoints, and `cli` is
`farmctl recipe check|show`.
"""
