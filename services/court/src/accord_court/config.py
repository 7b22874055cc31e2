from accord_kernel.settings import ServiceSettings

SERVICE = "court"
DEFAULT_PORT = 8104


def load_settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)
