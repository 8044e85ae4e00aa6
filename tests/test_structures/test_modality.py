import numpy as np
import pytest

from mmvireid.structures import (IR, MODALITY_NAMES, RGB, parse_modalities,
                                 parse_modality)


def test_codes_and_names():
    assert (RGB, IR) == (0, 1)
    assert MODALITY_NAMES == {0: 'rgb', 1: 'ir'}


@pytest.mark.parametrize('value, code', [(0, RGB), ('rgb', RGB),
                                         ('Visible', RGB), ('vis', RGB),
                                         (1, IR), ('IR', IR),
                                         ('thermal', IR), ('nir', IR),
                                         ('infrared', IR),
                                         (np.int64(1), IR)])
def test_parse_modality(value, code):
    assert parse_modality(value) == code


@pytest.mark.parametrize('value', [2, -1, 'depth', True, None, 0.0])
def test_parse_modality_refuses(value):
    with pytest.raises(ValueError, match=r"my_field must be RGB .* got"):
        parse_modality(value, 'my_field')


def test_parse_modalities():
    assert parse_modalities('ir') == (IR, )
    assert parse_modalities(['rgb', 1]) == (RGB, IR)
    with pytest.raises(ValueError, match='at least one modality'):
        parse_modalities(())
    with pytest.raises(ValueError, match="modalities must be RGB.*got 'x'"):
        parse_modalities(['rgb', 'x'])
