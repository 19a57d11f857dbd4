"""The HTTP API and the web console: a door that only translates. It imports the registry
(its answers, settings and errors) and the server's pool of registries (`storage.session`);
only `cli` imports it, to serve it."""
