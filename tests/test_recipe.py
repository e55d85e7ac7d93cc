"""Recipes: YAML values bound to the config dataclass, key=value overrides typed like the YAML."""

from pathlib import Path

import pytest

from acpo_bench.training.acpo import ACPOConfig
from acpo_bench.training.recipe import RecipeError, load_recipe
from acpo_bench.training.sft_tiny import TinySFTConfig

RECIPES = sorted((Path(__file__).resolve().parents[1] / "training" / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_shipped_recipes_load(path):
    config = load_recipe(TinySFTConfig if path.stem.endswith("_sft") else ACPOConfig, path)
    assert config.steps > 0 and config.batch_size > 0


def test_overrides_are_typed_like_the_yaml(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps: 7\nkind_weights:\n  visible_silent: 1.0\n  audible: 0.0\n")
    config = load_recipe(ACPOConfig, recipe, ["learning_rate=3e-4", "lora=false",
                                               "kind_weights=visible_silent:0.6,audible:0.4"])
    assert config.steps == 7 and config.learning_rate == pytest.approx(3e-4) and config.lora is False
    assert config.kind_weights == {"visible_silent": 0.6, "audible": 0.4}
    assert load_recipe(ACPOConfig, recipe).kind_weights == {"visible_silent": 1.0, "audible": 0.0}


@pytest.mark.parametrize("override, message", [
    ("stepz=3", "unknown key"),
    ("steps=three", "steps: 'three' is not a valid int"),
    ("kind_weights=visible_silent=1", "not a mapping; write key:value"),
    ("kind_weights=visible_silent:lots", r"kind_weights.visible_silent: 'lots' is not a valid float"),
    ("kind_weights=loud:1.0", "known kinds"),
    ("steps", "not key=value"),
])
def test_bad_overrides_name_the_key(tmp_path, override, message):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("steps: 5\n")
    with pytest.raises(RecipeError, match=message):
        load_recipe(ACPOConfig, recipe, [override])
