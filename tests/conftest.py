"""Repository-wide test configuration: the real-infrastructure fixtures (`infrastructure`,
`platform`) come from the `accord_platform.testing` plugin, so service test folders can use
the same ones."""

pytest_plugins = ["accord_platform.testing"]
