"""Profiles: chosen from the environment, complete for every lab, and ordered sensibly."""

from __future__ import annotations

import pytest

from utils import profiles


def test_environment_variable_selects_the_profile(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    profile = profiles.get_profile()
    assert profile.name == "smoke" and "COURSE_PROFILE" in profile.reason


def test_unknown_profile_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(profiles.ProfileError, match="Unknown profile 'fast': set COURSE_PROFILE to one of smoke, cpu, gpu"):
        profiles.get_profile()


def test_default_is_cpu_without_a_gpu(monkeypatch) -> None:
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(profiles, "gpu_visible", lambda: False)
    assert profiles.get_profile().name == "cpu"
    monkeypatch.setattr(profiles, "gpu_visible", lambda: True)
    assert profiles.get_profile().name == "gpu"


@pytest.mark.parametrize("lab", list(profiles.LABS))
def test_every_profile_defines_the_same_settings(lab: str) -> None:
    keys = [set(profiles.LABS[lab][name]) for name in profiles.PROFILES]
    assert keys[0] == keys[1] == keys[2], f"lab {lab}: profiles define different settings"


@pytest.mark.parametrize("lab", list(profiles.LABS))
def test_thresholds_do_not_fall_from_smoke_to_gpu(lab: str) -> None:
    smoke, cpu, gpu = (profiles.LABS[lab][name] for name in profiles.PROFILES)
    for key in smoke:
        if key.startswith("min_"):
            assert smoke[key] <= cpu[key] <= gpu[key], key
        if key.startswith("max_"):
            assert smoke[key] >= cpu[key] >= gpu[key], key


def test_lab_config_reads_as_attributes() -> None:
    config = profiles.get_profile("smoke").lab("backprop")
    assert config.epochs == profiles.LABS["backprop"]["smoke"]["epochs"]
    with pytest.raises(AttributeError, match="has no setting 'nope'"):
        config.nope
    with pytest.raises(profiles.ProfileError, match="Unknown lab"):
        profiles.get_profile("smoke").lab("nope")
    assert "epochs" in str(config)


@pytest.mark.parametrize("name", profiles.PROFILES)
def test_transfer_draws_match_the_labelled_sizes(name: str) -> None:
    settings = profiles.LABS["transfer"][name]
    assert len(settings["draws"]) == len(settings["per_class_sizes"]), "one number of draws per labelled-set size"
    assert settings["scratch_steps"] == settings["head_steps"] + settings["fine_tune_steps"], "same step budget"
