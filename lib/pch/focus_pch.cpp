// Compiles the precompiled header.
#include "focus_pch.h"
