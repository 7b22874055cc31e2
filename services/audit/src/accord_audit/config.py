from accord_kernel.settings import ServiceSettings

SERVICE = "audit"
DEFAULT_PORT = 8105


def load_settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)
