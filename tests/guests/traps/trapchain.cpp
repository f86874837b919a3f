// A C++ module that divides by zero three calls deep: main -> Parser::limit -> shares::divide<int>.
#include <cstdio>
#include <cstdlib>

namespace shares {
template <typename T>
__attribute__((noinline)) T divide(T total, T parts) {
    return total / parts;
}
}  // namespace shares

struct Parser {
    const char *text;
    __attribute__((noinline)) int limit(int total) const {
        return shares::divide<int>(total, std::atoi(text));
    }
};

int main(int argc, char **argv) {
    Parser parser{argc > 1 ? argv[1] : "0"};
    std::printf("{\"limit\": %d}\n", parser.limit(1000));
    return 0;
}
