"""Thin resolvers (parse, authorize, call one domain function, map) and the dataloaders."""
