"""Collect: place submissions into submitted/<student>/<lesson>/, and say what could not be placed."""
