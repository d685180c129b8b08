module sreracha.io/bench/goserver

go 1.22
