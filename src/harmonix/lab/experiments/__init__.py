"""Experiments: controlled measurements that answer one question each, reported whatever they show."""
