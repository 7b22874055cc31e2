from accord_kernel.settings import ServiceSettings

SERVICE = "referral"
DEFAULT_PORT = 8101


def load_settings(**overrides: object) -> ServiceSettings:
    return ServiceSettings.for_service(SERVICE, DEFAULT_PORT, **overrides)
