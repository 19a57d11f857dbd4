"""Access: API tokens (hashes only, each change an audited event), their roles, and the web
console's sign-in sessions. Imports the registry's domain; `registry.answers` and the doors
import it."""
