from accord_kernel.settings import ServiceSettings

SERVICE = "victim-support"
DEFAULT_PORT = 8102


def load_settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)
