//! The `pila` command line.

fn main() {
    println!("pila: being built");
}
