"""Users, workspaces and memberships, and the access helpers every workspace view uses."""
