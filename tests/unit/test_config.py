"""nnviz.config: frozen configs, validation, JSON round trip."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

from nnviz.config import (
    ConfigError,
    ConvBlock,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    from_dict,
    replace,
    to_dict,
)


def rich_config() -> RunConfig:
    """A config with every section away from its defaults, conv blocks included."""
    return RunConfig(
        data=DataConfig(dataset="regression", function="sine", noise=0.5, n_train=50, n_test=30,
                        val_fraction=0.2, seed=7),
        model=ModelConfig(hidden=(32, 16), activation="tanh", dropout=0.1, batch_norm=True,
                          conv=(ConvBlock(8, 5, False, "avg", True, 0.1), ConvBlock(16, 3)), global_pool=True),
        train=TrainConfig(optimizer="sgd", lr=0.05, momentum=0.8, epochs=3, scheduler="step", kfold=3, seed=11,
                          device="cpu", max_steps=2, grad_clip=1.5, augment=True),
        preset="custom", name="Unicode label: π ≈ 3.14")


class TestRoundTrip:
    def test_json_round_trip_equals_original(self):
        cfg = rich_config()
        back = RunConfig.from_json(cfg.to_json())
        assert back == cfg
        assert back.to_json() == cfg.to_json()

    def test_round_trip_restores_tuples_and_conv_blocks(self):
        back = RunConfig.from_json(rich_config().to_json())
        assert isinstance(back.model.hidden, tuple)
        assert isinstance(back.model.conv, tuple)
        assert all(isinstance(b, ConvBlock) for b in back.model.conv)
        assert back.model.conv[0] == ConvBlock(channels=8, kernel=5, same_padding=False, pool="avg",
                                               batch_norm=True, dropout=0.1)

    def test_default_config_round_trip(self):
        assert RunConfig.from_json(RunConfig().to_json()) == RunConfig()

    def test_to_dict_gives_plain_json_types(self):
        raw = to_dict(rich_config())
        assert raw["model"]["hidden"] == [32, 16]
        assert raw["model"]["conv"][1] == dataclasses.asdict(ConvBlock(16, 3))
        assert json.loads(json.dumps(raw)) == raw

    def test_integer_for_float_field_becomes_float(self):
        cfg = from_dict(TrainConfig, {"lr": 1, "gamma": 1})
        assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
        assert isinstance(replace(TrainConfig(), lr=2).lr, float)

    def test_partial_json_keeps_defaults(self):
        cfg = RunConfig.from_json('{"train": {"epochs": 3}}')
        assert cfg.train.epochs == 3
        assert cfg.train.lr == TrainConfig().lr
        assert cfg.data == DataConfig()


class TestRejects:
    @pytest.mark.parametrize("text, field", [
        ('{"bogus": 1}', "bogus"),
        ('{"train": {"learning_rate": 0.1}}', "learning_rate"),
        ('{"model": {"conv": [{"channels": 4, "stride": 2}]}}', "stride"),
        ('{"data": {"dataset": "digits", "path": "x"}}', "path"),
    ])
    def test_unknown_keys(self, text, field):
        with pytest.raises(ConfigError, match=field):
            RunConfig.from_json(text)

    @pytest.mark.parametrize("cls, field, value", [
        (TrainConfig, "epochs", True),  # bool is an int subclass: must still be refused
        (TrainConfig, "batch_size", 3.0),
        (TrainConfig, "batch_size", "64"),
        (TrainConfig, "lr", "0.1"),
        (TrainConfig, "lr", True),
        (TrainConfig, "lr", math.nan),
        (TrainConfig, "lr", math.inf),
        (TrainConfig, "amp", 1),
        (TrainConfig, "optimizer", 3),
        (DataConfig, "noise", None),
        (DataConfig, "noise", -math.inf),
        (ModelConfig, "hidden", 64),
        (ModelConfig, "hidden", [64, True]),
        (ConvBlock, "same_padding", 1),
        (ConvBlock, "kernel", 3.0),
    ])
    def test_wrong_types(self, cls, field, value):
        with pytest.raises(ConfigError, match=field):
            from_dict(cls, {field: value})
        with pytest.raises(ConfigError):
            cls(**{field: value})
        with pytest.raises(ConfigError):
            replace(cls(), **{field: value})

    def test_wrong_type_inside_a_conv_block(self):
        with pytest.raises(ConfigError, match="channels"):
            RunConfig.from_json('{"model": {"conv": [{"channels": "8"}]}}')

    def test_nan_in_json_text(self):
        with pytest.raises(ConfigError, match="finite"):
            RunConfig.from_json('{"train": {"lr": NaN}}')

    def test_invalid_json_text(self):
        with pytest.raises(ConfigError, match="not valid JSON"):
            RunConfig.from_json("{not json")

    @pytest.mark.parametrize("raw", [[1, 2], "train", 3, None])
    def test_non_object(self, raw):
        with pytest.raises(ConfigError, match="object"):
            from_dict(TrainConfig, raw)

    def test_replace_unknown_field(self):
        with pytest.raises(ConfigError, match="unknown"):
            replace(TrainConfig(), learning_rate=0.1)

    @pytest.mark.parametrize("cls, kwargs", [
        (TrainConfig, {"lr": -0.1}),
        (TrainConfig, {"lr": 100.5}),
        (TrainConfig, {"momentum": 1.0}),
        (TrainConfig, {"weight_decay": -1.0}),
        (TrainConfig, {"batch_size": 0}),
        (TrainConfig, {"epochs": -1}),
        (TrainConfig, {"kfold": 1}),
        (TrainConfig, {"kfold": 11}),
        (TrainConfig, {"gamma": 0.0}),
        (TrainConfig, {"step_size": 0}),
        (TrainConfig, {"log_every": 0}),
        (TrainConfig, {"max_steps": -1}),
        (TrainConfig, {"grad_clip": -1.0}),
        (TrainConfig, {"optimizer": "lbfgs"}),
        (TrainConfig, {"scheduler": "exponential"}),
        (TrainConfig, {"device": "tpu"}),
        (DataConfig, {"n_train": 1}),
        (DataConfig, {"n_train": 100_001}),
        (DataConfig, {"n_test": 0}),
        (DataConfig, {"noise": -0.1}),
        (DataConfig, {"val_fraction": 0.9}),
        (DataConfig, {"val_fraction": -0.1}),
        (DataConfig, {"train_fraction": 0.0}),
        (DataConfig, {"train_fraction": 1.5}),
        (DataConfig, {"dataset": ""}),
        (DataConfig, {"dataset": "csv"}),  # no csv_path
        (ModelConfig, {"hidden": (0,)}),
        (ModelConfig, {"hidden": (65_537,)}),
        (ModelConfig, {"hidden": (8,) * 9}),
        (ModelConfig, {"activation": "swish"}),
        (ModelConfig, {"dropout": 1.0}),
        (ModelConfig, {"conv": (ConvBlock(),) * 9}),
        (ConvBlock, {"channels": 0}),
        (ConvBlock, {"channels": 1025}),
        (ConvBlock, {"kernel": 12}),
        (ConvBlock, {"pool": "min"}),
        (ConvBlock, {"dropout": 1.0}),
    ])
    def test_out_of_range(self, cls, kwargs):
        with pytest.raises(ConfigError):
            cls(**kwargs)
        with pytest.raises(ConfigError):
            from_dict(cls, json.loads(json.dumps(kwargs, default=lambda o: dataclasses.asdict(o))))

    @pytest.mark.parametrize("cls, kwargs", [
        (TrainConfig, {"lr": 100.0}), (TrainConfig, {"lr": 0.0}), (TrainConfig, {"kfold": 2}),
        (TrainConfig, {"kfold": 10}), (TrainConfig, {"epochs": 0}), (DataConfig, {"val_fraction": 0.0}),
        (DataConfig, {"n_train": 2}), (DataConfig, {"dataset": "csv", "csv_path": "a.csv"}),
        (ModelConfig, {"hidden": ()}), (ModelConfig, {"hidden": (65_536,)}), (ConvBlock, {"kernel": 11}),
    ])
    def test_boundary_values_accepted(self, cls, kwargs):
        cfg = cls(**kwargs)
        for key, value in kwargs.items():
            assert getattr(cfg, key) == value

    def test_configs_are_frozen(self):
        cfg = rich_config()
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.train.lr = 1.0  # type: ignore[misc]


def test_task_and_kind():
    assert DataConfig(dataset="regression").task == "regression"
    assert DataConfig(dataset="csv", csv_path="x.csv").task == "regression"
    assert DataConfig(dataset="digits").task == "classification"
    assert DataConfig(dataset="cifar10").task == "classification"
    assert ModelConfig().kind == "mlp"
    assert ModelConfig(conv=(ConvBlock(),)).kind == "cnn"
