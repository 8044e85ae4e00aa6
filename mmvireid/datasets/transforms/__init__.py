from .adaptive_gray import ChannelAdapGray
from .base_channel_transform import BaseChannelTransform
from .channel_exchange import ChannelExchange
from .channel_random_erasing import ChannelRandomErasing
from .formatting import PackVIReIDInputs
from .loading import LoadVIReIDImage
from .modality_views import ModalityViews
from .random_grayscale import ModalityRandomGrayscale

__all__ = [
    'BaseChannelTransform', 'ChannelAdapGray', 'ChannelExchange',
    'ChannelRandomErasing', 'LoadVIReIDImage', 'ModalityRandomGrayscale',
    'ModalityViews', 'PackVIReIDInputs'
]
