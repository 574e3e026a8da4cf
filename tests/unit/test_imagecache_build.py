"""The image-pull model and an ImageCache's build timeline, on explicit times (no clock, no cluster)."""

from __future__ import annotations

import datetime as dt

import pytest

from eci_operator.domain.imagecache import CacheBuild, cache_id, usable
from eci_operator.domain.pulls import ALIBABA_CALIBRATED, DEMO, PullModel, model_for, pull_model
from eci_operator.models.imagecache import ImageCachePhase, ImageCacheSpec
from eci_operator.models.profile import ECIProfile, ImagePulls, ZoneSimulation

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_demo_defaults_are_seconds_and_a_cache_hit_is_at_least_twice_as_fast() -> None:
    pull = DEMO.pull_seconds(["nginx:1.25"])
    assert 2 <= pull <= 6
    assert DEMO.cache_start_seconds * 2 <= pull
    assert DEMO.cache_build_seconds(["nginx:1.25"]) <= 60  # a new ImageCache is Ready within a minute


def test_alibaba_calibration_reproduces_its_386_mb_example() -> None:
    assert ALIBABA_CALIBRATED.pull_seconds(["flink:1.17"]) == pytest.approx(50, abs=1)
    assert ALIBABA_CALIBRATED.cache_start_seconds == 5


def test_each_distinct_image_is_pulled_once_one_after_another() -> None:
    model = PullModel(bandwidth_mib_s=10, default_image_mib=100, image_mib={"big:1": 300})
    assert model.pull_seconds(["a:1", "a:1", "big:1"]) == pytest.approx(40)
    assert model.pull_seconds([]) == 0


def test_a_profile_overrides_its_calibration_field_by_field_and_a_zone_its_bandwidth() -> None:
    settings = ImagePulls.model_validate(
        {"calibration": "alibaba", "bandwidthMiBps": 20, "imageSizesMiB": {"x": 40}}
    )
    model = pull_model(settings)
    assert (model.bandwidth_mib_s, model.default_image_mib, model.cache_start_seconds) == (20, 368, 5)
    assert model.pull_seconds(["x"]) == 2
    zone = ZoneSimulation.model_validate({"zoneId": "cn-hangzhou-i", "pullBandwidthMiBps": 4})
    assert pull_model(settings, zone).bandwidth_mib_s == 4


def test_bad_image_pull_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="bandwidthMiBps"):
        ImagePulls.model_validate({"bandwidthMiBps": 0})
    with pytest.raises(ValueError, match="imageSizesMiB"):
        ImagePulls.model_validate({"imageSizesMiB": {"nginx": -1}})
    with pytest.raises(ValueError, match="calibration"):
        ImagePulls.model_validate({"calibration": "fast"})


def _profile(name: str, vswitch: str, zone: str, **sim: object) -> ECIProfile:
    return ECIProfile.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "regionId": "cn-hangzhou",
                "vpcId": "vpc-1",
                "securityGroupId": "sg-1",
                "vSwitches": [{"id": vswitch, "zoneId": zone, "cidr": "10.0.0.0/24"}],
                "simulation": sim,
            },
        }
    )


def test_the_cache_is_built_where_its_vswitch_is_else_by_the_first_profile() -> None:
    profiles = {
        "a": _profile("a", "vsw-a", "cn-hangzhou-h", imagePulls={"bandwidthMiBps": 8}),
        "b": _profile(
            "b", "vsw-b", "cn-hangzhou-i", zones=[{"zoneId": "cn-hangzhou-i", "pullBandwidthMiBps": 2}]
        ),
    }
    assert model_for(profiles, "vsw-b").bandwidth_mib_s == 2
    assert model_for(profiles, "vsw-elsewhere").bandwidth_mib_s == 8
    assert model_for(profiles, None).bandwidth_mib_s == 8
    assert model_for({}, None) == DEMO


def _build(images: list[str], **kw: object) -> CacheBuild:
    spec = ImageCacheSpec.model_validate({"images": images, **kw})
    model = PullModel(bandwidth_mib_s=10, default_image_mib=100, cache_build_overhead_seconds=30)
    return CacheBuild(uid="uid-1", spec=spec, started_at=T0, model=model)


def test_a_cache_is_creating_then_each_image_is_pulled_then_it_is_ready() -> None:
    build = _build(["a:1", "b:1"])
    start = build.status_at(T0)
    assert (start.phase, start.progress, start.events) == (ImageCachePhase.CREATING, "0%", [])
    assert start.image_cache_id == cache_id("uid-1")
    assert start.image_cache_id.startswith("imc-")
    assert build.next_change(T0) == at(40)
    half = build.status_at(at(45))
    assert (half.phase, half.progress) == (ImageCachePhase.CREATING, "50%")
    assert [e.message for e in half.events] == ["Successfully pulled image a:1"]
    assert build.next_change(at(45)) == at(50)
    ready = build.status_at(at(50))
    assert (ready.phase, ready.progress, ready.last_updated_time) == (ImageCachePhase.READY, "100%", at(50))
    assert ready.events[-1].name == "ImageCacheCreated"
    assert ready.expire_date_time is None
    assert build.next_change(at(50)) is None
    assert usable(ready, at(10**6))
    assert not usable(half, at(45))


def test_retention_days_set_the_expiry_and_an_expired_cache_is_not_used() -> None:
    build = _build(["a:1"], retentionDays=1)
    ready = build.status_at(at(3600))
    assert ready.expire_date_time == at(86400)
    assert usable(ready, at(86399))
    assert not usable(ready, at(86400))
    assert build.next_change(at(3600)) == at(86400)


def test_a_missing_pull_secret_fails_the_cache_which_expires_a_day_later() -> None:
    build = CacheBuild(
        uid="u",
        spec=ImageCacheSpec.model_validate({"images": ["p:1"], "imagePullSecrets": ["ns:regcred"]}),
        started_at=T0,
        model=DEMO,
        missing_secrets=["ns:regcred"],
    )
    failed = build.status_at(at(100))
    assert (failed.phase, failed.progress) == (ImageCachePhase.FAILED, "0%")
    assert failed.events[0].type == "Warning"
    assert "ns:regcred" in failed.events[0].message
    assert failed.expire_date_time == at(86400)
    assert build.ready_at is None
    assert not usable(failed, at(100))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"images": []}, "images"),
        ({"images": ["a"] * 21}, "images"),
        ({"images": ["a"], "imageCacheSize": 19}, "imageCacheSize"),
        ({"images": ["a"], "retentionDays": 0}, "retentionDays"),
        ({"images": ["a"], "imagePullSecrets": ["no-namespace"]}, "imagePullSecrets"),
    ],
)
def test_a_bad_spec_names_its_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ImageCacheSpec.model_validate(spec)
