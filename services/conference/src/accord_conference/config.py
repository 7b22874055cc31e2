from accord_kernel.settings import ServiceSettings

SERVICE = "conference"
DEFAULT_PORT = 8103


def load_settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)
