#pragma once
// Standard base64 (RFC 4648 section 4) with '=' padding: PNGs inlined in HTML
// and JSON, images uploaded to focus-serve.
#include <string>
#include <string_view>

namespace focus::util {

std::string base64_encode(std::string_view bytes);
/// Ignores whitespace; throws focus::Error for any other character outside the
/// alphabet or for bad padding.
std::string base64_decode(std::string_view text);

}  // namespace focus::util
