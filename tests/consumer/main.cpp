#include <phyx/phyx.hpp>
int main() { phyx::Runtime rt({.deterministic = true}); return 0; }
