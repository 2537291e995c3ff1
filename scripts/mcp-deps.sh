#!/usr/bin/env bash
# The npm packages of the MCP server tests (tests/mcp/package-lock.json), installed
# into a cache outside the clone; prints their node_modules (see npm-deps.sh).
exec bash "$(dirname "$0")/npm-deps.sh" mcp
