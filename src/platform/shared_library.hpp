// A shared library opened with dlopen when it is first needed, not linked
// (libssh and libarchive: why in ssh/client.cpp and platform/archive.cpp),
// and its functions bound with the types of the library's own declarations.
#pragma once

#include <dlfcn.h>

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace smlaunch::platform {

class SharedLibrary {
 public:
  /// dlopen(`name`), or why not: "cannot load NAME (Debian: PACKAGE): ...".
  static std::variant<SharedLibrary, std::string> open(const char* name, const char* package) {
    Handle handle(::dlopen(name, RTLD_NOW | RTLD_LOCAL));
    if (!handle) {
      const char* why = ::dlerror();
      return std::string("cannot load ") + name + " (Debian: " + package +
             "): " + (why != nullptr ? why : "unknown error");
    }
    return SharedLibrary(name, std::move(handle));
  }

  /// Sets `function` (a pointer declared as decltype(&::the_function)) to
  /// the library's `symbol`; the first symbol not found is remembered.
  template <typename Function>
  void bind(const char* symbol, Function& function) {
    function = reinterpret_cast<Function>(::dlsym(handle_.get(), symbol));
    if (function == nullptr && missing_ == nullptr) missing_ = symbol;
  }

  /// "NAME has no SYMBOL" when a bind() found nothing, else nullopt.
  [[nodiscard]] std::optional<std::string> missing() const {
    if (missing_ == nullptr) return std::nullopt;
    return std::string(name_) + " has no " + missing_;
  }

  /// Keeps the library loaded until the process exits (no dlclose).
  void keep_loaded() noexcept { (void)handle_.release(); }

 private:
  struct Close {
    void operator()(void* handle) const noexcept { ::dlclose(handle); }
  };
  using Handle = std::unique_ptr<void, Close>;

  SharedLibrary(const char* name, Handle handle) : name_(name), handle_(std::move(handle)) {}

  const char* name_;
  Handle handle_;
  const char* missing_ = nullptr;
};

}  // namespace smlaunch::platform
