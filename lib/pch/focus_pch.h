// Precompiled header shared by every Focus target: the LibTorch C++ frontend
// and the other heavy headers. Built once (target focus_pch), reused by all.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
