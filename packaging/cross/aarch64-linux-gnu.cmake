# Cross build for arm64 (Raspberry Pi OS 64-bit, Debian arm64) with Debian's multiarch toolchain:
# crossbuild-essential-arm64 and the :arm64 -dev packages (scripts/cross-arm64 installs them). Test
# programs run under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(PKG_CONFIG_EXECUTABLE aarch64-linux-gnu-pkg-config CACHE FILEPATH "pkg-config for the target")
# Multiarch: the target's libraries are in /usr/lib/aarch64-linux-gnu, headers shared in /usr/include.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
find_program(EHG_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${EHG_QEMU_AARCH64})
