from accord_kernel.settings import ServiceSettings

SERVICE = "reporting"
DEFAULT_PORT = 8106


def load_settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)
