"""What every configuration section shares: strict, frozen, no unknown keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from seawall.core.net import parse_network


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


Seconds = Annotated[float, Field(gt=0)]


def _check_cidr(value: str) -> str:
    try:
        parse_network(value)
    except Exception as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


# validated per item, so an error names the entry: `network.trusted_proxies[1]`
Cidr = Annotated[str, AfterValidator(_check_cidr)]
