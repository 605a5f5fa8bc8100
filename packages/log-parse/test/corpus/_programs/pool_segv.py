import concurrent.futures, ctypes
def work(i):
    if i == 3:
        ctypes.string_at(0)
    return i * i
if __name__ == "__main__":
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        print(list(ex.map(work, range(8))))
